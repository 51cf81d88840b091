package org.tsmtf.demo.core

/** The app holds no model: the message says how to put one there. */
class MissingModelException(message: String) : Exception(message)
