"""Training side: data, model, train, evaluate, export."""
