# Step 1 of the reference's "Authentication" page, verbatim. The interop test replaces only the
# reference's host (with the test server's base URL) and the your_… placeholders, then runs it with bash.
curl --request POST \
     --url https://app.360learning.com/api/v2/oauth2/token \
     --header 'accept: application/json' \
     --header 'content-type: application/json' \
     --data '
{
  "grant_type": "client_credentials",
  "client_id": "your_client_ID",
  "client_secret": "your_client_secret"
}
'
