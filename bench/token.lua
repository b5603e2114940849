-- wrk script of benchmark (c): POST /oauth/token, client credentials in the form body.
-- BENCH_CLIENT_ID and BENCH_CLIENT_SECRET are URL-safe (token_urlsafe): no encoding needed.
wrk.method = "POST"
wrk.path = "/oauth/token"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials"
  .. "&client_id=" .. os.getenv("BENCH_CLIENT_ID")
  .. "&client_secret=" .. os.getenv("BENCH_CLIENT_SECRET")
