"""`PredictionWriter`: `tsm-predict`'s output, a line per video, that a re-run continues."""

import csv
import io
import json
import logging
import os

from tsm_tf.prediction.video_prediction import VideoPrediction

OUTPUT_FORMATS = (".jsonl", ".csv")
CSV_COLUMNS = (
    "video",
    "label",
    "score",
    "labels",
    "scores",
    "num_frames",
    "seconds",
    "error",
    "detail",
)
# Joins the top-k labels and scores in one CSV cell.
_CSV_SEPARATOR = ";"


class PredictionWriter:
    """Appends one complete line per video to a `.jsonl` or `.csv` file.

    Opening an existing file reads the videos it already holds (`done`), so a
    stopped run started again skips them; a last line left without its end
    by a killed process is removed first, so no line is ever half-written and
    no video is counted from one. Each line is flushed as it is written.

    Args:
        path: a local `.jsonl` (one JSON object a line, timelines included)
            or `.csv` (top-k joined by ";") file; its folder is created.
    """

    def __init__(self, path: str):
        self.path = os.fspath(path)
        self.format = os.path.splitext(self.path)[1].lower()
        if self.format not in OUTPUT_FORMATS:
            raise ValueError(f"The output must end in .jsonl or .csv. Received: {self.path!r}")
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self.done = self._recover()
        self._file = open(self.path, "a", encoding="utf-8", newline="")
        if self.format == ".csv" and self._file.tell() == 0:
            self._file.write(self._csv_line(CSV_COLUMNS))
            self._file.flush()

    def write(self, result: VideoPrediction) -> None:
        """Appends `result` as one line."""
        if self.format == ".jsonl":
            line = json.dumps(result.to_dict(), ensure_ascii=False) + "\n"
        else:
            line = self._csv_line(
                [
                    result.video,
                    result.labels[0] if result.labels else "",
                    f"{result.scores[0]:.6f}" if result.scores else "",
                    _CSV_SEPARATOR.join(result.labels),
                    _CSV_SEPARATOR.join(f"{score:.6f}" for score in result.scores),
                    result.num_frames,
                    f"{result.seconds:.3f}",
                    result.error or "",
                    (result.detail or "").replace("\n", " "),
                ]
            )
        self._file.write(line)
        self._file.flush()
        self.done.add(result.video)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "PredictionWriter":
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        self.close()

    def _recover(self):
        """The videos of the complete lines already in the file; drops an unfinished last line."""
        if not os.path.exists(self.path):
            return set()
        with open(self.path, "rb") as file:
            data = file.read()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) < len(data):
            logging.warning(
                "%s ended in an unfinished line (a run stopped while writing it); removed it.",
                self.path,
            )
            os.truncate(self.path, len(complete))
        text = complete.decode("utf-8")
        if self.format == ".jsonl":
            done = set()
            for number, line in enumerate(text.splitlines(), 1):
                try:
                    done.add(json.loads(line)["video"])
                except (ValueError, KeyError, TypeError) as error:
                    raise ValueError(
                        f"{self.path}, line {number}, is not a tsm-predict result ({error}). "
                        "Give another --output, or remove the file to start again."
                    ) from error
            return done
        rows = list(csv.reader(io.StringIO(text)))
        if rows and tuple(rows[0]) != CSV_COLUMNS:
            raise ValueError(
                f"{self.path} is not a tsm-predict CSV: its header is {rows[0]}, expected "
                f"{list(CSV_COLUMNS)}. Give another --output, or remove the file to start again."
            )
        return {row[0] for row in rows[1:] if row}

    @staticmethod
    def _csv_line(values):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(values)
        return buffer.getvalue()
