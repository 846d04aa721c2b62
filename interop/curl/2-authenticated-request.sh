# Step 2 of the reference's "Authentication" page, verbatim. The interop test replaces only the
# reference's host (with the test server's base URL) and the your_… placeholders, then runs it with bash.
curl --request GET \
     --url https://app.360learning.com/api/v2/groups \
     --header 'accept: application/json' \
     --header '360-api-version: v2.0' \
     --header 'authorization: Bearer your_access_token'
