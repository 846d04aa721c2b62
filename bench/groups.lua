-- wrk script: authenticated GET of the groups list with the version header (token reused).
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["360-api-version"] = "v2.0"
