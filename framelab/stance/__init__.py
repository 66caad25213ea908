"""FNC-1 headline–body stance: a relatedness stage on similarity features, then a cross-encoder for agree /
disagree / discuss."""
