"""Cases use cases, one module per aggregate: campaigns, cases, parties (measures, sentences),
typical cases (drafts, publishing), clues and hand-overs, and the reads of what a caller may
see (lists, the change feed). Each use case authorizes, validates, reads or writes in one
transaction, and returns domain records: protobuf stays in the servicer."""
