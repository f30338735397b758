using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

namespace OpenQwen2VL.Cli.Options;

/// <summary>
/// Range checks of numeric options, as parse-time validators: a value outside its range is one line naming the option,
/// the value and the range (<c>--threads 0: must be in [1, 8]</c>), exit code 2, before anything runs.
/// </summary>
public static class OptionRanges
{
    /// <summary>
    /// Requires <paramref name="min"/> &lt;= value &lt;= <paramref name="max"/> (min &lt; value with
    /// <paramref name="minExclusive"/>); NaN is outside every range.
    /// </summary>
    public static Option<T> InRange<T>(this Option<T> option, T min, T max, bool minExclusive = false) where T : struct, INumber<T>, IMinMaxValue<T>
    {
        option.Validators.Add(r => Check(r, r.GetValueOrDefault<T>(), min, max, minExclusive));
        return option;
    }

    /// <summary>The same for an optional value (absent is fine).</summary>
    public static Option<T?> InRange<T>(this Option<T?> option, T min, T max, bool minExclusive = false) where T : struct, INumber<T>, IMinMaxValue<T>
    {
        option.Validators.Add(r => { if (r.GetValueOrDefault<T?>() is T value) Check(r, value, min, max, minExclusive); });
        return option;
    }

    /// <summary>Requires value &gt;= <paramref name="min"/>.</summary>
    public static Option<T> AtLeast<T>(this Option<T> option, T min) where T : struct, INumber<T>, IMinMaxValue<T> => option.InRange(min, T.MaxValue);

    /// <summary>Requires value &gt;= <paramref name="min"/> when given.</summary>
    public static Option<T?> AtLeast<T>(this Option<T?> option, T min) where T : struct, INumber<T>, IMinMaxValue<T> => option.InRange(min, T.MaxValue);

    /// <summary>The one-line message of a value outside [min, max].</summary>
    public static string Message<T>(string name, T value, T min, T max, bool minExclusive = false) where T : struct, INumber<T>, IMinMaxValue<T>
    {
        string range = max == T.MaxValue ? $"{(minExclusive ? ">" : ">=")} {Text(min)}" : $"in {(minExclusive ? "(" : "[")}{Text(min)}, {Text(max)}]";
        return $"{name} {Text(value)}: must be {range}";
    }

    static void Check<T>(OptionResult r, T value, T min, T max, bool minExclusive) where T : struct, INumber<T>, IMinMaxValue<T>
    {
        bool above = minExclusive ? value > min : value >= min;
        if (!(above && value <= max)) r.AddError(Message(r.Option.Name, value, min, max, minExclusive));
    }

    static string Text<T>(T value) where T : struct, INumber<T> => value.ToString(null, CultureInfo.InvariantCulture);
}
