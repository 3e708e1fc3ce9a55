"""`shopbot train`: the project's own small model, built from customer-service dialogues."""
