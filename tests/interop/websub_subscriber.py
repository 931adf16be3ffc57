"""flask-websub's subscriber (PyPI), written by others, against refeed's hub.

Usage: websub_subscriber.py FEED_URL PORT OUT_DIR

Serves its callbacks on 127.0.0.1:PORT, discovers the hub and topic from
FEED_URL's Link headers (flask_websub.subscriber.discover), subscribes, and
writes OUT_DIR/subscribed once the hub verified it, then every notification
body to OUT_DIR/delivery-N. Runs until killed.
"""

import os
import sys
import threading

from flask import Flask
from flask_websub.subscriber import (
    SQLite3SubscriberStorage,
    SQLite3TempSubscriberStorage,
    Subscriber,
    discover,
)
from werkzeug.serving import make_server

feed_url, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]

app = Flask(__name__)
app.config["SERVER_NAME"] = f"127.0.0.1:{port}"
app.config["PREFERRED_URL_SCHEME"] = "http"
db = os.path.join(out, "subscriber.sqlite3")
subscriber = Subscriber(SQLite3SubscriberStorage(db), SQLite3TempSubscriberStorage(db))
app.register_blueprint(subscriber.build_blueprint(url_prefix="/callbacks"))
received = []


def write(name, data):
    tmp = os.path.join(out, "." + name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, os.path.join(out, name))


@subscriber.add_success_handler
def on_success(topic_url, callback_id, mode):
    write("subscribed", f"{mode} {topic_url}\n".encode())


@subscriber.add_error_handler
def on_error(topic_url, callback_id, reason):
    write("error", f"{topic_url}: {reason}\n".encode())


@subscriber.add_listener
def on_update(topic_url, callback_id, body):
    received.append(body)
    write(f"delivery-{len(received)}", body)


server = make_server("127.0.0.1", port, app, threaded=True)
threading.Thread(target=server.serve_forever, daemon=True).start()

found = discover(feed_url)
print("discovered", found, flush=True)
with app.app_context():
    subscriber.subscribe(**found)
print("subscription requested", flush=True)
threading.Event().wait()
