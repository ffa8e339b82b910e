"""product-api: Lambda code behind the REST API (thin handlers over logic over data access)."""
