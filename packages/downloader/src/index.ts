// The public API of this package is listed here as it lands (see README.md for its issue).
export {};
