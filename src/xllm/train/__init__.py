"""Full-parameter fine-tuning: label masking, packing, the training loop, checkpoints, launch."""
