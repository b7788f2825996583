"""The community: accounts, submissions, votes, comments, collections, moderation and audit.

Services here check the rules (who may do what, caps, rate limits) and call the store; views
call these services only.
"""
