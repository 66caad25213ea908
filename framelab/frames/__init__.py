"""Frames from frozen sentence vectors: a label-wise attention head, and the sentences that carry each frame.

Task ``frames_attention`` (:mod:`framelab.frames.tasks`). Each article is cut
into sentences, each sentence is encoded once by the frozen encoder (the mean
of its token vectors), and a small head learns, per frame, which sentences to
attend to and whether the frame is there. Training repeats no encoder work
per epoch, so it takes minutes on a CPU; the attention weights name the
sentences that carry each predicted frame (``frame_evidence`` in the scored
output).
"""
