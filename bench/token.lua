-- wrk script: client-credentials requests with the reference's JSON body.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"grant_type":"client_credentials","client_id":"' .. os.getenv("CLIENT_ID") ..
           '","client_secret":"' .. os.getenv("CLIENT_SECRET") .. '"}'
