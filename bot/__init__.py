"""The application: command line, configuration, assembly, channel adapters, outbound delivery."""
