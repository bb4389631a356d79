"""HTTP <-> messages: signature checks, parsing Twilio's form parameters, TwiML replies."""
