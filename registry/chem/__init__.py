"""Chemistry without a database: a structure's identity (RDKit), adduct arithmetic, compound names, the IR grid."""
