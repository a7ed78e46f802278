"""Everything that talks to OpenSearch: the local node, the client factory, indices."""
