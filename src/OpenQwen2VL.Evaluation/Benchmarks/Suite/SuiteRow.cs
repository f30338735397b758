namespace OpenQwen2VL.Evaluation.Benchmarks.Suite;

/// <summary>
/// One line of a suite's table: the benchmark's headline metric and score (0-1), the items scored and skipped (on
/// load and while asking), the protocol, the prompt format the model was asked in, and the seconds the run took.
/// </summary>
public sealed record SuiteRow(string Benchmark, string Metric, double Score, int N, int Skipped, string Protocol, string PromptFormat, double Seconds);
