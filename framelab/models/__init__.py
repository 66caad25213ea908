"""The saved model folder and the encoder it starts from."""
