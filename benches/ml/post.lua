-- wrk script: POST a JSON sentiment request.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"text":"The delivery was fast and the support team was friendly and helpful, I love it."}'
