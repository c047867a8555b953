"""HTTP plumbing shared by every route: responses, errors, middleware, authentication, metrics."""
