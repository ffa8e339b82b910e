"""Logger, Tracer and Metrics, made once for the whole function.

Service name, namespace and log level come from the POWERTOOLS_* variables in template.yaml.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
