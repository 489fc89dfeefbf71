"""Document forensics for proof-of-purchase uploads."""

__version__ = "0.1.0"

#: version of the whole analysis; bumped when a change alters what records say
ANALYZER_VERSION = f"forensics/{__version__}"
