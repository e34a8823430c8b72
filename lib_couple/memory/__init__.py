"""What the attention patch keeps between steps and generations, and its bookkeeping."""
