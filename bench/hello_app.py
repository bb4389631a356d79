"""The baseline for bench/webhook.py: Flask answering the inbound webhook with fixed TwiML.

It parses the form like the real app does, but skips the signature check and the database,
so the gap to it is what the app's own work costs."""
from flask import Flask, Response, request

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>hi</Message></Response>'

app = Flask(__name__)


@app.post("/webhooks/twilio/inbound")
def inbound():
    request.form  # read the body, as any real handler must
    return Response(TWIML, mimetype="application/xml")
