"""`filmcolor studio`: a local web page to place colour hints on a photo or a film's frame and see the colour live.

``session.Studio`` holds the pictures and colours them with the library's own ``Colorizer.colorize_image``;
``server`` puts it behind a small Starlette app (the page in ``static/``) served by uvicorn on 127.0.0.1.
"""
