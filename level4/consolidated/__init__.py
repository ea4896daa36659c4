"""The consolidated level-4 book: one instrument's books across venues
merged into one ladder, and its top of book as a stream channel."""
