-- wrk script of benchmarks (a) and (b): POST /api/v1/public_markets with a JSON body.
-- The bearer token comes from the BENCH_TOKEN environment variable (ignored by the bare app).
wrk.method = "POST"
wrk.path = "/api/v1/public_markets"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "none")
wrk.body = '{"public_market": {"name": "Fourniture de matériel informatique", '
  .. '"lot_name": "Lot 1 - Ordinateurs portables", "deadline": "2030-12-31T23:59:59Z", '
  .. '"siret": "13002526500013", "market_type_codes": ["supplies", "services"]}}'
