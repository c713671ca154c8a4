"""What each task BERT is fine-tuned for does differently, around the one Trainer loop in ``training.py``.

A task module checks and encodes its data, names its head, computes its metrics and decodes
the model's outputs (the way transformers' pipelines split pre-processing, forward and
post-processing). ``bert_nb.finetune(task=...)`` picks one.

- ``classify``: one label per text (the default task).
- ``pairs``: a cross-encoder that scores or labels pairs of texts.
- ``tagging``: token classification (named entities) on words with BIO tags; ``bert_nb.tag``.
- ``qa``: extractive question answering on SQuAD records; ``bert_nb.answer``.
"""
