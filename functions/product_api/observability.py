"""Logger, Tracer and Metrics, made once for the whole function.

Service name, namespace and log level come from the POWERTOOLS_* variables in template.yaml.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
# botocore is the only library these functions call out through: patching just it keeps every
# DynamoDB subsegment and skips importing the patchers (and the modules) of a dozen others.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()
