package org.tsmtf.demo.core

/** What loading a model gave: the [session], or the [failure] to show and the [error] to log. */
class LoadOutcome<S>(val session: S?, val failure: String?, val error: Throwable?)

/** Loading a model, where every way it can fail is a message on the screen, not a crash. */
object ModelLoad {
    /**
     * Runs [open]. A [MissingModelException] gives its own message (how to add a model); any
     * other throwable gives "Could not load the model: ...". Errors are caught too: the native
     * interpreter's library failing to load throws `UnsatisfiedLinkError`, and on the analysis
     * thread anything uncaught would end the process.
     */
    @JvmStatic
    fun <S> attempt(open: () -> S): LoadOutcome<S> = try {
        LoadOutcome(open(), null, null)
    } catch (error: MissingModelException) {
        LoadOutcome(null, error.message ?: "No model in the app.", error)
    } catch (error: Throwable) {
        LoadOutcome(null, "Could not load the model: ${error.message ?: error.javaClass.simpleName}", error)
    }
}
