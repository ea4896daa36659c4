"""The journal: every frame each market receives, with what it takes to
rebuild the books and events from them (`level4 serve --journal DIR`,
`level4 replay --format level4 DIR`)."""
