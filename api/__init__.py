"""The read-only HTTP API for the systems that send (ESPs, SMS gateways): a shell like ui/.

It reads requests, authenticates the bearer token and calls ONE service in review/ through
`api.deps.call` (one unit of work each), then returns that service's result as a pydantic model.
No queries, no permission decisions here: scopes, brand restrictions and what is visible are
decided in review/api_tokens.py and review/api_read.py. The domain core never imports this
package (tests/test_layers.py). Run it with `python -m api --host 0.0.0.0 --port 8600`.
"""
