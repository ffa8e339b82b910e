"""Functions that Amazon Cognito calls (user pool Lambda triggers), not API Gateway."""
