/* The map (only when a tile server is configured): a click puts the marker and fills the
   latitude and longitude fields, which stay the way to give the place without a mouse. */
(function () {
  "use strict";
  var element = document.getElementById("harita");
  var latitude = document.getElementById("f-enlem");
  var longitude = document.getElementById("f-boylam");
  if (!element || !window.L || !latitude || !longitude) {
    return;
  }
  element.hidden = false;
  window.L.Icon.Default.imagePath = "/static/vendor/leaflet/images/";

  function read(field) {
    var value = parseFloat(String(field.value).replace(",", "."));
    return isNaN(value) ? null : value;
  }

  var start = read(latitude) !== null && read(longitude) !== null;
  var map = window.L.map(element).setView(start ? [read(latitude), read(longitude)] : [39.0, 35.0], start ? 16 : 6);
  window.L.tileLayer(element.getAttribute("data-tiles"), {
    maxZoom: 19,
    attribution: element.getAttribute("data-attribution") || ""
  }).addTo(map);
  var marker = null;

  function put(point) {
    if (marker) {
      marker.setLatLng(point);
    } else {
      marker = window.L.marker(point, { keyboard: false }).addTo(map);
    }
  }

  map.on("click", function (event) {
    put(event.latlng);
    latitude.value = event.latlng.lat.toFixed(6).replace(".", ",");
    longitude.value = event.latlng.lng.toFixed(6).replace(".", ",");
  });
  if (start) {
    put([read(latitude), read(longitude)]);
  }
})();
