"""Model checkpoints from the Hugging Face Hub, fetched once by the download_hf_model rule."""
