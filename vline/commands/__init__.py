"""The commands: thin functions over the model, edits and adapters. Imported lazily by cli."""
