"""dramatiq workers: `dramatiq workers` imports this package, which sets up the broker from
FORENSICS_BROKER_URL and declares the `analyze_upload` actor on queue `uploads`.

    FORENSICS_BROKER_URL=redis://127.0.0.1:6379/0 dramatiq workers --processes 2 --threads 1
"""

from forensics.settings import get_settings
from workers.broker import setup_broker

broker = setup_broker(get_settings())
