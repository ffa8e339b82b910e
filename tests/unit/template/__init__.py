"""Contract tests on the TRANSFORMED template: what CloudFormation receives after LanguageExtensions
and the SAM translator, not the SAM source. Infrastructure tools have silently dropped method scopes
before (aws/serverless-application-model#1752, #3325; aws/aws-cdk#30444), so the checks read the
OpenAPI body, roles and permissions that the translator wrote.

The expectation comes from template.yaml itself: each function event's `Auth` is the documented
contract of its route. Every check is a plain function returning a list of problems; the same
functions are run on the real template (no problems) and on templates broken on purpose (the
problem is reported), so a check that cannot fail does not pass unnoticed.

One test file per concern; support.py holds what they share.
"""
