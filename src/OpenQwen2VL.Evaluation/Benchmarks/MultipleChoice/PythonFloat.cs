using System.Globalization;

namespace OpenQwen2VL.Evaluation.Benchmarks.MultipleChoice;

/// <summary>Python's <c>repr(float)</c>: the shortest round-trip digits, fixed notation for 1e-4 &lt;= |x| &lt; 1e16 (with ".0" when integral), else <c>d.ddde+XX</c>.</summary>
public static class PythonFloat
{
    public static string Repr(double x)
    {
        if (double.IsNaN(x)) return "nan";
        if (double.IsInfinity(x)) return x > 0 ? "inf" : "-inf";
        if (x == 0) return double.IsNegative(x) ? "-0.0" : "0.0";
        // .NET's "E16" is not shortest; "R" is. Normalise "R" into digits and a decimal exponent.
        string r = Math.Abs(x).ToString("R", CultureInfo.InvariantCulture);
        int exp = 0;
        int e = r.IndexOfAny(['E', 'e']);
        if (e >= 0) { exp = int.Parse(r[(e + 1)..], CultureInfo.InvariantCulture); r = r[..e]; }
        int dot = r.IndexOf('.');
        string digits = dot >= 0 ? r.Remove(dot, 1) : r;
        int pointAt = (dot >= 0 ? dot : r.Length) + exp; // digits[0..pointAt] is the integer part
        int lead = digits.Length - digits.TrimStart('0').Length;
        digits = digits.Trim('0');
        pointAt -= lead;
        int sciExp = pointAt - 1;
        string sign = x < 0 ? "-" : "";
        if (sciExp >= -4 && sciExp < 16)
        {
            string intPart = pointAt <= 0 ? "0" : digits.Length >= pointAt ? digits[..pointAt] : digits + new string('0', pointAt - digits.Length);
            string frac = pointAt < 0 ? new string('0', -pointAt) + digits : digits.Length > pointAt ? digits[pointAt..] : "";
            return $"{sign}{intPart}.{(frac.Length == 0 ? "0" : frac)}";
        }
        string mantissa = digits.Length == 1 ? digits : $"{digits[0]}.{digits[1..]}";
        return string.Create(CultureInfo.InvariantCulture, $"{sign}{mantissa}e{(sciExp < 0 ? '-' : '+')}{Math.Abs(sciExp):00}");
    }
}
