"""The rule core: what the campaign's rules say, apart from any chat.

Each module holds one feature's rules (ideas, projects, supervision, scores) as async
functions of the services; chat modules, scheduled jobs and the export call them and
render what they return. Nothing here parses a message or knows a channel.
"""
