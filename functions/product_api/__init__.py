"""product-api: Lambda code behind the REST API (thin handlers over logic over data access).

Importing the package runs nothing: what a handler does at its cold start, it does itself, in the
open (product_api/cold_start.py).
"""
