/*
 * wardgate's HL7 v2 check: HAPI HL7 v2 (an independent parser, v2.6 structures) parses each
 * message with its default validation (primitive formats: dates, numbers, ids) and answers the
 * parsed message as JSON, field by field and unescaped, so a test compares it with the readings.
 *
 * Problems reported: a parse or validation exception; a message that is not an ORU^R01 of v2.6;
 * a segment HAPI had to keep as non-standard (a segment where ORU_R01 does not allow it);
 * a re-encoding by HAPI that differs from the input (a field HAPI could not represent).
 *
 * Usage: java -cp <jars>:<classes> Hl7Check [file ...]   (a file: a JSON array of message strings)
 *   Without files: file paths on stdin, one a line; "ready" first; one JSON line per file.
 * Answer: {"file":..., "results":[{"index":i, "errors":[...], "segments":[{"path","name","fields"}]}]}
 * fields[n] is field n (fields[0] unused; for MSH fields[1] is the field separator), each a list
 * of repetitions, each a list of components, each a list of subcomponents (strings).
 */
import ca.uhn.hl7v2.DefaultHapiContext;
import ca.uhn.hl7v2.HapiContext;
import ca.uhn.hl7v2.model.AbstractGroup;
import ca.uhn.hl7v2.model.Composite;
import ca.uhn.hl7v2.model.GenericSegment;
import ca.uhn.hl7v2.model.Group;
import ca.uhn.hl7v2.model.Message;
import ca.uhn.hl7v2.model.Primitive;
import ca.uhn.hl7v2.model.Segment;
import ca.uhn.hl7v2.model.Structure;
import ca.uhn.hl7v2.model.Type;
import ca.uhn.hl7v2.model.Varies;
import ca.uhn.hl7v2.parser.PipeParser;
import ca.uhn.hl7v2.validation.impl.ValidationContextFactory;
import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

public class Hl7Check {
  public static void main(String[] args) throws Exception {
    HapiContext ctx = new DefaultHapiContext();
    ctx.setValidationContext(ValidationContextFactory.defaultValidation());
    PipeParser parser = ctx.getPipeParser();
    Gson gson = new Gson();
    if (args.length > 0) {
      for (String f : args) System.out.println(gson.toJson(checkFile(parser, f)));
      return;
    }
    System.out.println("ready");
    System.out.flush();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) continue;
      JsonObject answer;
      try {
        answer = checkFile(parser, line.trim());
      } catch (Exception e) {
        answer = new JsonObject();
        answer.addProperty("file", line.trim());
        answer.addProperty("failure", e.toString());
      }
      System.out.println(gson.toJson(answer));
      System.out.flush();
    }
  }

  static JsonObject checkFile(PipeParser parser, String file) throws Exception {
    JsonArray messages = JsonParser.parseString(Files.readString(Path.of(file), StandardCharsets.UTF_8)).getAsJsonArray();
    JsonArray results = new JsonArray();
    for (int i = 0; i < messages.size(); i++) {
      String text = messages.get(i).getAsString();
      JsonObject r = new JsonObject();
      r.addProperty("index", i);
      JsonArray errors = new JsonArray();
      JsonArray segments = new JsonArray();
      try {
        Message m = parser.parse(text);
        if (!"ORU_R01".equals(m.getName())) errors.add("message structure is " + m.getName() + ", not ORU_R01");
        if (!"2.6".equals(m.getVersion())) errors.add("version is " + m.getVersion() + ", not 2.6");
        walk(m, "", segments, errors);
        String again = parser.encode(m);
        if (!trimEnd(again).equals(trimEnd(text))) errors.add("HAPI re-encodes the message differently: " + again.replace('\r', '\n'));
      } catch (Exception e) {
        errors.add(e.getClass().getSimpleName() + ": " + e.getMessage());
      }
      r.add("errors", errors);
      r.add("segments", segments);
      results.add(r);
    }
    JsonObject answer = new JsonObject();
    answer.addProperty("file", file);
    answer.addProperty("count", messages.size());
    answer.add("results", results);
    return answer;
  }

  static String trimEnd(String s) {
    int n = s.length();
    while (n > 0 && (s.charAt(n - 1) == '\r' || s.charAt(n - 1) == '\n')) n--;
    return s.substring(0, n);
  }

  /** Segments in message order, with their group path (e.g. PATIENT_RESULT/ORDER_OBSERVATION/OBSERVATION(2)/OBX). */
  static void walk(Group g, String path, JsonArray out, JsonArray errors) throws Exception {
    java.util.Set<String> nonStandard = g instanceof AbstractGroup ? ((AbstractGroup) g).getNonStandardNames() : java.util.Set.of();
    for (String name : g.getNames()) {
      if (nonStandard.contains(name)) {
        for (Structure s : g.getAll(name)) if (!s.isEmpty()) errors.add("segment " + s.getName() + " is not allowed where it is (kept by HAPI as non-standard " + path + name + ")");
      }
      Structure[] reps = g.getAll(name);
      for (int k = 0; k < reps.length; k++) {
        Structure s = reps[k];
        String p = path + name + (reps.length > 1 || g.isRepeating(name) ? "(" + k + ")" : "");
        if (s instanceof GenericSegment) errors.add("segment " + s.getName() + " is not allowed where it is (kept by HAPI as non-standard at " + p + ")");
        // A group that is present must hold its required parts (HAPI's parser does not insist):
        // an ORDER_OBSERVATION without its OBR, say, when an OBX comes before the OBR.
        if (s instanceof Group && !s.isEmpty()) {
          Group sub = (Group) s;
          for (String child : sub.getNames()) {
            if (!sub.isRequired(child)) continue;
            boolean present = false;
            for (Structure c : sub.getAll(child)) present |= !c.isEmpty();
            if (!present) errors.add("required " + child + " missing in " + p);
          }
        }
        if (s instanceof Group) {
          walk((Group) s, p + "/", out, errors);
        } else if (!s.isEmpty()) {
          out.add(segment((Segment) s, p));
        }
      }
    }
  }

  static JsonObject segment(Segment s, String path) throws Exception {
    JsonObject o = new JsonObject();
    o.addProperty("path", path);
    o.addProperty("name", s.getName());
    JsonArray fields = new JsonArray();
    fields.add(new JsonArray());
    for (int f = 1; f <= s.numFields(); f++) {
      JsonArray reps = new JsonArray();
      for (Type t : s.getField(f)) reps.add(components(t));
      fields.add(reps);
    }
    o.add("fields", fields);
    return o;
  }

  static JsonArray components(Type t) {
    if (t instanceof Varies) t = ((Varies) t).getData();
    JsonArray comps = new JsonArray();
    if (t instanceof Composite) {
      for (Type c : ((Composite) t).getComponents()) comps.add(subcomponents(c));
    } else {
      comps.add(subcomponents(t));
    }
    return comps;
  }

  static JsonArray subcomponents(Type t) {
    if (t instanceof Varies) t = ((Varies) t).getData();
    JsonArray subs = new JsonArray();
    if (t instanceof Composite) {
      for (Type c : ((Composite) t).getComponents()) subs.add(value(c));
    } else {
      subs.add(value(t));
    }
    return subs;
  }

  static String value(Type t) {
    if (t instanceof Varies) t = ((Varies) t).getData();
    if (t instanceof Primitive) {
      String v = ((Primitive) t).getValue();
      return v == null ? "" : v;
    }
    if (t instanceof Composite) {
      // deeper than HL7 allows on the wire: flatten with the component separator
      StringBuilder b = new StringBuilder();
      Type[] c = ((Composite) t).getComponents();
      for (int i = 0; i < c.length; i++) b.append(i == 0 ? "" : "&").append(value(c[i]));
      return b.toString();
    }
    return "";
  }
}
