"""A real S3-compatible server for the object-store tests: moto in server mode on 127.0.0.1, a free port.

Usage: python3 s3_server.py BUCKET
Creates BUCKET, prints `PORT <n>` and serves until its standard input is closed (the test holding it ends).
Installed by ci/install.sh (`moto[server]`). With S3_REQUEST_LOG=FILE set, every request is logged to FILE, one
line each (bench/object_store.py counts them).
"""

import logging
import os
import sys

import boto3
from moto.server import ThreadedMotoServer


def main() -> None:
    requests = logging.getLogger("werkzeug")
    log = os.environ.get("S3_REQUEST_LOG")
    if log:
        requests.setLevel(logging.INFO)
        requests.addHandler(logging.FileHandler(log))
        requests.propagate = False
    else:
        requests.setLevel(logging.ERROR)
    bucket = sys.argv[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://{host}:{port}",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket=bucket)
    print(f"PORT {port}", flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
