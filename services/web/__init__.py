"""The citizen web page (web channel), served by the API process."""
