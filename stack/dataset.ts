/**
 * The diabetes data set (Efron et al. 2004) as shipped in `stack/data/diabetes.csv`.
 *
 * @module
 */

/** Where the data set lives, relative to the repo root, where tasks run. */
export const DIABETES_CSV_PATH = "stack/data/diabetes.csv";

/** The feature columns, in the order that every feature vector uses. */
export const FEATURE_NAMES: readonly string[] = Object.freeze([
  "age",
  "sex",
  "bmi",
  "bp",
  "s1",
  "s2",
  "s3",
  "s4",
  "s5",
  "s6",
]);

/** How many numbers make a feature vector. */
export const FEATURE_COUNT = 10;

/** The name of the column that holds the value to predict. */
export const TARGET_NAME = "target";

/** Rows of features with the value to predict for each. */
export interface Dataset {
  /** Names of the columns of `X`, in order. */
  featureNames: string[];
  /** One feature vector per row, each with `featureNames.length` numbers. */
  X: number[][];
  /** The target of each row of `X`. */
  y: number[];
}

const HEADER = [...FEATURE_NAMES, TARGET_NAME].join(",");

// Plain decimal numbers only: `Number()` alone would also take "", "0x1f" and "Infinity".
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Parses the text of `diabetes.csv`: a header `age,sex,bmi,bp,s1,s2,s3,s4,s5,s6,target` then one
 * row of 11 finite decimal numbers per line. Accepts `\n` or `\r\n` line ends and blank lines at
 * the end only.
 *
 * @example
 * ```ts
 * const ds = parseDiabetesCsv("age,sex,bmi,bp,s1,s2,s3,s4,s5,s6,target\n0,0,0,0,0,0,0,0,0,0,151\n");
 * ds.y; // [151]
 * ```
 *
 * @throws {Error} naming the 1-based line when the header is missing or wrong, a row has the
 * wrong number of columns or a value is not a finite number, or there are no rows.
 */
export function parseDiabetesCsv(text: string): Dataset {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1].trim() === "") lines.pop();
  if (lines.length === 0) {
    throw new Error("Cannot parse diabetes CSV as it is empty: expected header '" + HEADER + "'");
  }
  if (lines[0] !== HEADER) {
    throw new Error(
      `Cannot parse diabetes CSV as line 1 must be the header '${HEADER}': current line is '${
        lines[0]
      }'`,
    );
  }
  if (lines.length === 1) {
    throw new Error("Cannot parse diabetes CSV as it has a header but no rows");
  }
  const columns = FEATURE_COUNT + 1;
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const lineNumber = i + 1;
    const fields = lines[i].split(",");
    if (fields.length !== columns) {
      throw new Error(
        `Cannot parse diabetes CSV as line ${lineNumber} must have ${columns} columns: current count is ${fields.length}`,
      );
    }
    const row = fields.map((field, column) => {
      const value = field.trim();
      const number = Number(value);
      if (!DECIMAL.test(value) || !Number.isFinite(number)) {
        throw new Error(
          `Cannot parse diabetes CSV as line ${lineNumber} column '${
            column < FEATURE_COUNT ? FEATURE_NAMES[column] : TARGET_NAME
          }' must be a finite number: current value is '${field}'`,
        );
      }
      return number;
    });
    y.push(row.pop()!);
    X.push(row);
  }
  return { featureNames: [...FEATURE_NAMES], X, y };
}

/**
 * Reads and parses the diabetes data set. Needs read permission for `path`.
 *
 * @throws {Error} naming `path` when the file cannot be read or parsed.
 */
export async function loadDiabetes(path: string = DIABETES_CSV_PATH): Promise<Dataset> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "file not found"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new Error(`Cannot load diabetes data set from '${path}': ${reason}`, { cause: error });
  }
  try {
    return parseDiabetesCsv(text);
  } catch (error) {
    throw new Error(`Cannot load diabetes data set from '${path}': ${(error as Error).message}`, {
      cause: error,
    });
  }
}
