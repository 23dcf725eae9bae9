"""The data layer: folders, the release zip, the built-in sample and Hugging Face datasets become
``Benchmark`` objects of validated ``Scene`` objects (``loading``, ``archive``, ``sample_data``,
``hfdata``); ``benchmarks/`` holds one registered definition per benchmark (its protocol and its
folder layout)."""
