"""OpenRTB bidder: campaigns, targeting, scoring, pacing, tracking."""
