"""The edges that accept input: validate, authenticate, turn input into events, publish. Never the database."""
